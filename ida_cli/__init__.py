"""ida: a command-line workbench for Iterated Distillation and Amplification."""

__version__ = "0.1.0"
