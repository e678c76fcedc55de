"""Slurm targets: the agent inside an allocation, submitted with sbatch on a login node."""
