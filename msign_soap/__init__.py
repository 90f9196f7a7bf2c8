"""msign-soap: a self-hostable signing service speaking the MSign SOAP contract."""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
