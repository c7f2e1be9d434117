"""``python -m pywlc.cli`` is ``wlc``."""

from . import main

raise SystemExit(main())
