"""The notebook front end: IPython magics and ipywidgets."""
