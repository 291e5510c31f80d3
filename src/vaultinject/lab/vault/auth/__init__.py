"""Auth methods: token, Kubernetes, JWT/OIDC and AppRole."""
