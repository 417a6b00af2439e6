"""One module per analytics question; each builds parameterised SQL and shapes the answer."""
