"""Alert delivery: what happens to an alert after a rule fired.

The stage after detection (capture -> wire -> detect -> deliver). Pure where it can be:
parsing an alert at the trust boundary (``alert``), the incident fingerprint
(``fingerprint``), windows of repeats and their summaries (``dedup``), the priority ->
severity table (``severity``), one attempt/retry policy (``retry``), and one module per
destination that renders an alert and sends it once (``slack``, ``webhook``,
``pagerduty``, ``securityhub``, ``ocsf``). ``dispatch`` ties them together for
``lanner notify``; the Lambdas in ``functions/`` call the same pieces.
"""
