"""ML: one torch network with three modes (answer, fan_out, fan_in) selected by a mode token.

torch is imported only inside this package and only by the commands that need it."""
