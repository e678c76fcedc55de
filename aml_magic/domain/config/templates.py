"""The files ``aml init`` writes into a new project, commented for people who never used Workbench."""
from __future__ import annotations

from aml_magic.domain.registry import DEFAULT_DOCKER_IMAGE

LOCAL_COMPUTE = """\
# Compute target "local": runs execute on this computer, in a private copy of the project.
# Run configurations name a target through their 'Target:' key.

# What kind of target this is: local, docker, remote, remotedocker or cluster.
type: local

# The Python interpreter that runs your scripts. Leave it out (or write python or python3) to
# use the Python that runs aml_magic (the notebook's kernel); give a path or another name on
# PATH to use another one.
# pythonLocation: python3

# spark-submit, used only when a run configuration says 'Framework: PySpark'.
sparkSubmitLocation: spark-submit

# A folder that survives between runs (for caches, downloaded data, ...). Runs find it in the
# environment variable AZUREML_NATIVE_SHARE_DIRECTORY, with a trailing slash.
nativeSharedDirectory: ~/.azureml/share/
"""

LOCAL_RUNCONFIG = """\
# Run configuration "local": run a script on the "local" target.
# Submit with:  aml experiment submit -c local train.py 0.5    (or %aml_submit -c local ...)

# The command line. $file is replaced by the script named when you submit; extra arguments
# given at submit time are appended. Fixed arguments may follow: ["$file", "--epochs", 10].
ArgumentVector:
  - "$file"

# The compute target to run on: the name of a .compute file in this folder.
Target: "local"

# Environment variables the run gets. Do not put passwords here: this file is shared.
EnvironmentVariables:
  "EXAMPLE_ENV_VAR": "Example Value"

# Python runs the script with the target's Python; PySpark runs it with spark-submit.
Framework: "Python"

# The conda environment file for this run (relative to the project root). Local runs use the
# target's Python as it is and do not build this environment.
CondaDependenciesFile: "aml_config/conda_dependencies.yml"

# Spark settings and packages, used only with 'Framework: PySpark'.
SparkDependenciesFile: "aml_config/spark_dependencies.yml"

# Build a missing environment as part of the run (otherwise run 'aml experiment prepare').
PrepareEnvironment: false

# Record the run (status, logs, metrics, outputs) in the project's run history.
TrackedRun: true
"""

DOCKER_COMPUTE = f"""\
# Compute target "docker": runs execute in a Docker container on this computer.

# What kind of target this is: local, docker, remote, remotedocker or cluster.
type: docker

# The image the run's container is built on; the conda environment is added on top of it.
baseDockerImage: "{DEFAULT_DOCKER_IMAGE}"

# true: mount the project folder into the container; false: copy the project into it, so a
# run cannot change your files while it runs.
sharedVolumes: false

# true: give the container the host's GPUs (needs the NVIDIA container toolkit).
# nvidiaDocker: false

# A folder that survives between runs, seen as AZUREML_NATIVE_SHARE_DIRECTORY. On Docker
# targets it is mounted only with 'sharedVolumes: true' (as in Workbench).
# nativeSharedDirectory: ~/.azureml/share/
"""

DOCKER_RUNCONFIG = """\
# Run configuration "docker": run a script in a container on the "docker" target.
# Submit with:  aml experiment submit -c docker train.py

# The command line. $file is replaced by the script named when you submit.
ArgumentVector:
  - "$file"

# The compute target to run on: the name of a .compute file in this folder.
Target: "docker"

# Environment variables the run gets. Do not put passwords here: this file is shared.
EnvironmentVariables:
  "EXAMPLE_ENV_VAR": "Example Value"

# Python runs the script with the environment's Python; PySpark runs it with spark-submit
# (the image must contain Spark).
Framework: "Python"

# The conda environment built into the run's image (relative to the project root). It is
# rebuilt only when the file's content changes.
CondaDependenciesFile: "aml_config/conda_dependencies.yml"

# Spark settings and packages, used only with 'Framework: PySpark'.
SparkDependenciesFile: "aml_config/spark_dependencies.yml"

# Build the environment as part of the first run that needs it. With false, a missing
# environment fails the run and 'aml experiment prepare -c docker' builds it.
PrepareEnvironment: true

# Record the run (status, logs, metrics, outputs) in the project's run history.
TrackedRun: true
"""

CONDA_DEPENDENCIES = """\
# The environment runs get on docker and remote targets (the local target uses its Python as
# it is, unless its .compute says userManagedEnvironment: false or you run
# `aml experiment prepare -c local --managed`: then a venv built by uv from this file).
# The environment is built once and reused until the content of this file changes.
# Format: a conda environment file, https://docs.conda.io (environment.yml).
# Where conda is not available, aml_magic uses venv + pip with the 'pip:' list and the conda
# names that also exist on PyPI, and tells you which entries it could not honour.

name: project_environment

dependencies:
  # The Python version of the environment.
  - python=3.11

  # More conda packages, e.g.:
  # - numpy

  # pip requirements (names, '==' pins, wheel URLs) go in one 'pip:' list, e.g.:
  # - pip:
  #   - scikit-learn==1.4.2
"""

SPARK_DEPENDENCIES = """\
# Spark settings and packages for runs whose run configuration says 'Framework: PySpark'.
# Ignored for 'Framework: Python'.

# Spark properties, each passed to spark-submit as --conf name=value.
# spark.app.name is the application name shown by Spark.
configuration:
  "spark.app.name": "aml_magic experiment"
  # "spark.driver.memory": "4g"

# Maven repositories searched for the packages below (--repositories).
repositories: []
#  - "https://repos.spark-packages.org/"

# Maven packages added to the run (--packages group:artifact:version).
packages: []
#  - group: "org.postgresql"
#    artifact: "postgresql"
#    version: "42.7.3"
"""

AMLIGNORE = """\
# Files that are NOT copied into a run's snapshot (gitignore syntax). .gitignore is honoured
# too, and .aml/ and .git/ are always left out.

# Notebook and Python caches.
.ipynb_checkpoints/
__pycache__/
*.pyc

# Local virtual environments: large, and the run builds its own environment.
.venv/
venv/

# What a run writes under ./outputs/ and ./logs/ becomes that run's artifacts and logs. Copies
# left in the project folder (from running a script by hand) would otherwise be shipped with
# every run and reported as its outputs. They are left out even without these lines; to ship
# them anyway, replace a line with its re-inclusion (`!/outputs/`).
/outputs/
/logs/

# The run history, run folders and caches (always left out; listed so the file says so).
.aml/

# Editor and OS clutter.
.DS_Store
"""

CONFIG_FILES = {
    "local.compute": LOCAL_COMPUTE,
    "local.runconfig": LOCAL_RUNCONFIG,
    "docker.compute": DOCKER_COMPUTE,
    "docker.runconfig": DOCKER_RUNCONFIG,
    "conda_dependencies.yml": CONDA_DEPENDENCIES,
    "spark_dependencies.yml": SPARK_DEPENDENCIES,
}
