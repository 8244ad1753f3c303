"""Log analysis: a window of ``LogRecord``s in, ``Anomaly``s out.

analyzer.py   LogAnalyzer: groups records by template, keeps the new-error baseline
templates.py  masking of variable parts; the template of a message (drain3 optional)
shapes.py     a masked message's shape: the tokens template grouping compares
clusters.py   ShapeClusters: shapes clustered into templates online, bounded time and memory
evidence.py   what one template's records show (counts, samples, durations, limits)
rules.py      the five rules: repeated_error, new_error, truncation, slow, duplicates
anomalies.py  the Anomaly a rule builds: fingerprint, severity, summary
"""
