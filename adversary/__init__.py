"""The adversary: Adv(Q, A) -> S, the predicted negative loss of ML's answer, and the selection
strategies that use its scores. Knows nothing of the store or the CLI."""
