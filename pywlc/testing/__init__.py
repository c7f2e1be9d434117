"""Testing helpers shipped with pywlc: the fuzz harness (:mod:`pywlc.testing.fuzz`)."""
