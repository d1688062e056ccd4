"""bncert-tui: free HTTPS for a Bitnami VM's web server, with a wizard and an unattended mode."""

__version__ = "0.1.0"
USER_AGENT = f"bncert-tui/{__version__}"
