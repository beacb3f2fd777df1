"""python -m symbackprop: the command line."""

from symbackprop.cli import main

raise SystemExit(main())
