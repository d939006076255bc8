"""Word pools the generator draws from. Plain pools are pure ASCII; the accented pools hold
the cp1252 names (é ñ ü ’ ...) that the ``cp1252_names`` dirt rate brings in.

No value in a pool ends with a space or equals a sentinel, so that every trailing space and
every ``NULL``/``N/A`` in the output is injected dirt that the manifest counts.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


LAST_NAMES = _words(
    "SMITH JOHNSON WILLIAMS BROWN JONES MILLER DAVIS WILSON ANDERSON TAYLOR THOMAS MOORE "
    "MARTIN JACKSON THOMPSON WHITE HARRIS CLARK LEWIS ROBINSON WALKER YOUNG ALLEN KING "
    "WRIGHT SCOTT HILL GREEN ADAMS BAKER NELSON CARTER MITCHELL ROBERTS TURNER PHILLIPS "
    "CAMPBELL PARKER EVANS EDWARDS COLLINS STEWART MORRIS ROGERS REED COOK MORGAN BELL "
    "MURPHY BAILEY COOPER RICHARDSON COX HOWARD WARD PETERSON GRAY JAMES WATSON BROOKS "
    "KELLY SANDERS PRICE BENNETT WOOD BARNES ROSS HENDERSON COLEMAN JENKINS PERRY POWELL "
    "LONG PATTERSON HUGHES FLORES WASHINGTON BUTLER SIMMONS FOSTER BRYANT ALEXANDER "
    "RUSSELL GRIFFIN HAYES MYERS FORD HAMILTON GRAHAM SULLIVAN WALLACE WOODS COLE WEST "
    "JORDAN OWENS REYNOLDS FISHER ELLIS HARRISON GIBSON MCDONALD CRUZ MARSHALL ORTIZ "
    "GOMEZ MURRAY FREEMAN WELLS WEBB SIMPSON STEVENS TUCKER PORTER HUNTER HICKS CRAWFORD "
    "HENRY BOYD MASON KENNEDY WARREN DIXON BURNS GORDON SHAW HOLMES RICE ROBERTSON HUNT "
    "BLACK DANIELS PALMER MILLS NICHOLS GRANT KNIGHT FERGUSON STONE HAWKINS DUNN PERKINS "
    "HUDSON SPENCER GARDNER STEPHENS PAYNE PIERCE BERRY MATTHEWS ARNOLD WAGNER WILLIS RAY "
    "WATKINS OLSON CARROLL DUNCAN SNYDER HART CUNNINGHAM KOWALSKI NOWAK SCHMIDT SCHULTZ "
    "NGUYEN TRAN PATEL SHAH KIM PARK CHEN WONG O'NEIL O'HARA"
)

LAST_NAMES_CP1252 = (
    "Muñoz",
    "Peña",
    "Núñez",
    "Gómez",
    "Hernández",
    "Martínez",
    "Pérez",
    "Sánchez",
    "Rodríguez",
    "Ibáñez",
    "Fernández",
    "Jiménez",
    "Müller",
    "Schäfer",
    "Köhler",
    "Brückner",
    "Bélanger",
    "Lefèvre",
    "Gagné",
    "Côté",
    "Thériault",
    "Lévesque",
    "O’Brien",
    "O’Connor",
    "D’Angelo",
    "Åberg",
    "Strøm",
    "Ødegård",
    "Çelik",
    "Björklund",
    "Françoise-Duval",
    "Piñeiro",
)

FIRST_NAMES_M = _words(
    "JAMES JOHN ROBERT MICHAEL WILLIAM DAVID RICHARD JOSEPH THOMAS CHARLES CHRISTOPHER "
    "DANIEL MATTHEW ANTHONY MARK DONALD STEVEN PAUL ANDREW JOSHUA KENNETH KEVIN BRIAN "
    "GEORGE TIMOTHY RONALD EDWARD JASON JEFFREY RYAN JACOB GARY NICHOLAS ERIC JONATHAN "
    "STEPHEN LARRY JUSTIN SCOTT BRANDON BENJAMIN SAMUEL GREGORY FRANK RAYMOND PATRICK "
    "JACK DENNIS JERRY TYLER AARON JOSE HENRY ADAM DOUGLAS NATHAN PETER ZACHARY KYLE "
    "WALTER HAROLD CARL ARTHUR GERALD ROGER"
)

FIRST_NAMES_F = _words(
    "MARY PATRICIA JENNIFER LINDA ELIZABETH BARBARA SUSAN JESSICA SARAH KAREN NANCY LISA "
    "BETTY MARGARET SANDRA ASHLEY KIMBERLY EMILY DONNA MICHELLE DOROTHY CAROL AMANDA "
    "MELISSA DEBORAH STEPHANIE REBECCA SHARON LAURA CYNTHIA KATHLEEN AMY SHIRLEY ANGELA "
    "HELEN ANNA BRENDA PAMELA NICOLE EMMA SAMANTHA KATHERINE CHRISTINE DEBRA RACHEL "
    "CAROLYN JANET CATHERINE MARIA HEATHER DIANE RUTH JULIE OLIVIA JOYCE VIRGINIA "
    "VICTORIA KELLY LAUREN"
)

FIRST_NAMES_M_CP1252 = (
    "José",
    "Jesús",
    "André",
    "Héctor",
    "Raúl",
    "Agustín",
    "Björn",
    "Søren",
    "Noël",
    "Ramón",
    "Jérôme",
    "Zoltán",
)
FIRST_NAMES_F_CP1252 = (
    "María",
    "Zoë",
    "Renée",
    "Chloé",
    "Françoise",
    "Inés",
    "Anaïs",
    "Mónica",
    "Hélène",
    "Begoña",
    "Åsa",
    "Rocío",
)

STREETS = _words(
    "MAIN OAK MAPLE CEDAR PINE ELM WASHINGTON LAKE HILL PARK WALNUT CHURCH HIGH MILL "
    "RIVER CENTER SPRING CHESTNUT RIDGE FOREST MEADOW SUNSET JACKSON FRANKLIN LINCOLN "
    "MADISON"
)
STREET_TYPES = ("ST", "AVE", "RD", "DR", "LN", "CT", "BLVD", "WAY", "PL")

# (city, state, zip prefix, phone area code)
CITIES = (
    ("FORT WAYNE", "IN", "468", "260"),
    ("INDIANAPOLIS", "IN", "462", "317"),
    ("TOLEDO", "OH", "436", "419"),
    ("DAYTON", "OH", "454", "937"),
    ("GARY", "IN", "464", "219"),
    ("SOUTH BEND", "IN", "466", "574"),
    ("KALAMAZOO", "MI", "490", "269"),
    ("LANSING", "MI", "489", "517"),
    ("PEORIA", "IL", "616", "309"),
    ("ROCKFORD", "IL", "611", "815"),
    ("EVANSVILLE", "IN", "477", "812"),
    ("LIMA", "OH", "458", "419"),
    ("MUNCIE", "IN", "473", "765"),
    ("AKRON", "OH", "443", "330"),
)

# (department, noise exposed, healthcare worker)
DEPARTMENTS = (
    ("PRODUCTION", True, False),
    ("MAINTENANCE", True, False),
    ("WAREHOUSE", True, False),
    ("FABRICATION", True, False),
    ("PAINT SHOP", True, False),
    ("SHIPPING", True, False),
    ("ADMINISTRATION", False, False),
    ("LABORATORY", False, True),
    ("NURSING", False, True),
    ("SECURITY", False, False),
    ("ENGINEERING", False, False),
    ("FOOD SERVICE", False, True),
    ("ENVIRONMENTAL SVCS", True, True),
    ("IT", False, False),
)
DEPARTMENT_WEIGHTS = (22, 10, 9, 7, 3, 6, 9, 4, 6, 3, 6, 3, 4, 3)

JOB_TITLES = (
    "MACHINE OPERATOR",
    "ASSEMBLER",
    "WELDER",
    "FORKLIFT OPERATOR",
    "MAINTENANCE TECH",
    "ELECTRICIAN",
    "MATERIAL HANDLER",
    "QUALITY INSPECTOR",
    "SUPERVISOR",
    "CLERK",
    "ACCOUNTANT",
    "REGISTERED NURSE",
    "LAB TECHNICIAN",
    "SECURITY OFFICER",
    "ENGINEER",
    "PAINTER",
    "COOK",
    "CUSTODIAN",
    "ANALYST",
    "MANAGER",
)

PROVIDERS = (
    "DR. A PATEL",
    "DR. R HOLLAND",
    "DR. S KIM",
    "DR. M GARCIA",
    "DR. J WEISS",
    "L MORGAN NP",
    "K FRANKS PA-C",
    "DR. T OKAFOR",
)
NURSES = ("J SMITH RN", "B LANE RN", "C ORTEGA RN", "D PHAM LPN", "M KEMPER RN", "S DUBOIS RN")
TECHNICIANS = ("R VOSS CAOHC", "P NGUYEN CAOHC", "T BURKE", "A ROWE", "K IMHOFF")

# Free text. Plain sentences have no special characters; each SPECIAL fragment carries the
# characters a loader must survive (quotes, delimiters, tabs, backslashes, cp1252 punctuation).
NOTE_SENTENCES = (
    "Annual surveillance exam completed",
    "Employee seen for hearing conservation follow up",
    "No acute distress",
    "Lungs clear to auscultation bilaterally",
    "Cleared for respirator use",
    "Discussed results of audiogram with employee",
    "Return to clinic in 2 weeks",
    "Employee denies chest pain or shortness of breath",
    "Wound clean and dry",
    "Full duty release given",
    "Advised to follow up with PCP",
    "Tolerated procedure well",
    "Hearing protection fit checked and reinforced",
    "Ice and elevation recommended",
    "Pre placement physical within normal limits",
    "Reviewed exposure history with employee",
    "Vaccine information statement given",
    "Employee instructed to return if symptoms worsen",
    "TB symptom questionnaire negative",
    "Supervisor notified of work status",
    "Employee reports improvement since last visit",
    "Range of motion improved",
    "Blood pressure rechecked after rest",
)
SPECIAL_DOUBLE_QUOTE = (
    'Employee states "my ears have been ringing"',
    'Pt reports "popping" in left ear',
    'Chief complaint "back went out" while lifting',
    'Told supervisor it was "no big deal"',
)
SPECIAL_SINGLE_QUOTE = (
    "Employee's supervisor notified",
    "Pt can't lift more than 20 lbs",
    "Per worker's comp adjuster call",
    "Doesn't use hearing protection consistently",
)
SPECIAL_COMMA = (
    "BP 132/84, P 78, R 16",
    "Seen by RN, MD, and PT",
    "Neck, shoulder, and upper back pain",
)
SPECIAL_SEMICOLON = ("Hx: HTN; DM2; asthma", "Plan: ice; NSAIDs; recheck Monday")
SPECIAL_TAB = ("FVC\t4.21\tFEV1\t3.30", "R ear\t25 dB\tL ear\t30 dB")
SPECIAL_BACKSLASH = (
    "Scanned to S:\\OccHealth\\Scans\\2014",
    "See G:\\Audio\\baseline\\report.pdf",
    "Results filed under \\\\fileserver\\clinic\\labs",
)
SPECIAL_CP1252 = ("Pt’s wife called – rescheduled", "Temp 99.1°F – afebrile", "Naïve to PPD")
