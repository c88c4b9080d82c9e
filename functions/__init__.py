"""The detector Lambdas: thin AWS adapters around the lanner rule core."""
