"""``workbench synth``: a seeded generator of a legacy occupational-health clinic.

    from workbench.synth import generate, Dirt
    manifest = generate(style="ohm", people=1000, seed=42, fmt="csv", out=Path("clinic"))

The same seed and parameters give byte-identical files; ``synth-manifest.json`` next to them
is the ground truth: rows per table and exactly what dirt went in.
"""

from workbench.synth.dirt import Dirt
from workbench.synth.generate import generate
from workbench.synth.manifest import SynthManifest
from workbench.synth.styles import STYLES
from workbench.synth.writers import ENCODINGS, FORMATS, MANIFEST_NAME

__all__ = ["ENCODINGS", "FORMATS", "MANIFEST_NAME", "STYLES", "Dirt", "SynthManifest", "generate"]
