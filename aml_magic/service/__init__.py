"""The one service API every front end calls: Workspace, Run, sweeps, attach/prepare, the REST
service object.
"""
