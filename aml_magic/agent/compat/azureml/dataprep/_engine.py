"""Running one dataflow of a package: its blocks in order, each through the table in
``_blocks``, starting from another dataflow where a ``ReferenceActivityBlock`` says so.

Errors name the place: ``azureml.dataprep: <block> (block N) in <file>, dataflow I ('name'):
<reason>``, one line; an error from a referenced dataflow keeps its own place.
"""
import os
import sys

from ._blocks import BLOCKS, UNSUPPORTED, short_name
from ._document import activities, find_package, load
from ._errors import PANDAS_MISSING, DataPrepError, PandasMissingError, UnsupportedBlockError, \
    where
from ._sources import Files

_MAX_DEPTH = 20
_PREFIX = "azureml.dataprep: "


def pandas():
    """The pandas module, imported only when a package is actually read."""
    try:
        import pandas as pd
    except ImportError:
        raise PandasMissingError(PANDAS_MISSING)
    return pd


class Context(object):
    """What a block function may use: pandas, the package file, and other dataflows."""

    def __init__(self, file, index, name, stack):
        self.pd = pandas()
        self.file = file
        self.index = index
        self.name = name
        self.stack = stack

    def run_reference(self, reference):
        """The DataFrame of a referenced dataflow: in another file
        (``referenceContainerPath``, relative to this one), in this one, or inline steps."""
        if reference.get("anonymousSteps"):
            steps = {"blocks": reference["anonymousSteps"]}
            return run_blocks(self.file, "%s/inline" % self.index, None, steps, self.stack)
        container = reference.get("referenceContainerPath")
        target = self.file
        if container:
            target = os.path.normpath(os.path.join(os.path.dirname(self.file), container))
        return run_dataflow(target, activity_id=reference.get("referencedActivityId"),
                            stack=self.stack)


def _located(error, file, index, name, block_type, number):
    """The error with its place prepended, once."""
    if getattr(error, "located", False):
        return error
    kind = UnsupportedBlockError if isinstance(error, UnsupportedBlockError) else DataPrepError
    verb = "is not supported: " if kind is UnsupportedBlockError else ""
    message = str(error).strip().replace("\n", " ") or error.__class__.__name__
    if message.startswith(_PREFIX):
        message = message[len(_PREFIX):]
    located = kind("azureml.dataprep: %s (block %d) in %s %s%s"
                   % (block_type, number, where(file, index, name) + ":", verb, message))
    located.located = True
    return located


def run_blocks(file, index, name, activity, stack):
    """The DataFrame the activity's blocks make; inspectors and disabled blocks are skipped."""
    context = Context(file, index, name, stack)
    value = None
    for number, block in enumerate(activity.get("blocks") or []):
        if block.get("isEnabled") is False:
            continue
        block_type = short_name(block.get("type"))
        arguments = block.get("arguments") or {}
        try:
            if block_type == "ReferenceActivityBlock":
                value = context.run_reference(arguments.get("reference") or {})
                continue
            function = BLOCKS.get(block_type)
            if function is None:
                raise UnsupportedBlockError(UNSUPPORTED.get(block_type, "not known to this reader"))
            if value is None and function.__module__.endswith("_columns"):
                raise DataPrepError("no data before this block")
            value = function(context, value, arguments)
        except DataPrepError as error:
            raise _located(error, file, index, name, block_type, number)
        except (KeyError, ValueError, TypeError, AttributeError, IndexError, ArithmeticError,
                NameError, SyntaxError) as error:
            raise _located(DataPrepError("%s: %s" % (error.__class__.__name__, error)), file,
                           index, name, block_type, number)
    if value is None or isinstance(value, Files):
        raise DataPrepError("azureml.dataprep: %s makes no table (no source and parse blocks)"
                            % where(file, index, name))
    return value


def run_dataflow(file, index=None, activity_id=None, stack=()):
    """The DataFrame of dataflow ``index`` (or the one with ``activity_id``) of ``file``."""
    if not stack:  # the caller's path; references are relative to their package
        file = find_package(file)
    file = os.path.abspath(file) if os.path.isabs(file) else os.path.normpath(file)
    flows = activities(load(file))
    if activity_id is not None:
        matches = [i for i, flow in enumerate(flows) if flow.get("id") == activity_id]
        if not matches and len(flows) == 1:  # the source was re-created since: its only dataflow
            sys.stderr.write("azureml.dataprep: %s has no dataflow with id %s; using its only "
                             "dataflow\n" % (os.path.basename(file), activity_id))
            matches = [0]
        if not matches:
            raise DataPrepError("azureml.dataprep: %s has no dataflow with id %s"
                                % (file, activity_id))
        index = matches[0]
    index = 0 if index is None else index
    if not isinstance(index, int) or not 0 <= index < len(flows):
        raise DataPrepError("azureml.dataprep: %s has %d dataflow(s); dataflow_idx=%r is out of "
                            "range" % (file, len(flows), index))
    key = (os.path.abspath(file), index)
    if key in stack or len(stack) > _MAX_DEPTH:
        raise DataPrepError("azureml.dataprep: %s refers to itself in a loop" % where(file, index, None))
    flow = flows[index]
    return run_blocks(file, index, flow.get("name"), flow, stack + (key,))


def dataflow_names(file):
    """``[(id, name), ...]`` of the package's dataflows, in ``dataflow_idx`` order."""
    return [(flow.get("id"), flow.get("name")) for flow in activities(load(find_package(file)))]
