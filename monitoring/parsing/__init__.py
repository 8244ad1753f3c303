"""Log parsing: raw log text in, one ``LogRecord`` per logical event out.

parser.py        RecordParser (streaming, line by line), parse_lines
line_formats.py  what one text line says: level, timestamp, logger, message
tracebacks.py    a multi-line Python traceback assembled into one record
logfile.py       read_records(path or "-"): robust file and stdin reading
"""
