"""Log analysis: a window of ``LogRecord``s in, ``Anomaly``s out.

analyzer.py   LogAnalyzer: groups records by template, keeps the new-error baseline
templates.py  masking of variable parts and drain3 template mining
evidence.py   what one template's records show (counts, samples, durations, limits)
rules.py      the five rules: repeated_error, new_error, truncation, slow, duplicates
anomalies.py  the Anomaly a rule builds: fingerprint, severity, summary
"""
