"""Process entry point: the ``mendbot`` command line.

main.py           argument parsing and dispatch (the ``mendbot`` script)
scan_command.py   ``mendbot scan``;  scan_output.py: its JSON lines and tables
run_command.py    ``mendbot run``: the long-running bot
fixes_command.py  ``mendbot fixes list | show | implement | reject | revert``
eval_command.py   ``mendbot eval``: the fix evaluation over case folders
stats_command.py  ``mendbot stats``: what fixes and operational actions achieved
learn_command.py  ``mendbot learn``: compile the diagnosis program from verified fixes
messages.py       the words the command line shows
support.py        settings loading, errors, the audit actor
"""
