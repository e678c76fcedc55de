"""Front ends: the notebook (magics, widgets), the CLI and the REST handlers. They parse, call the
service layer and render; nothing below imports them.
"""
