"""Migration jobs: validate, dry-run, commit with parking, reconcile, rollback."""
