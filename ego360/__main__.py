"""`python -m ego360 …` is the `ego360 …` console script."""
from ego360.tools.cli import main

raise SystemExit(main())
