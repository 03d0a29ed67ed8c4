"""tui-tagger: tag x-ray scattering detector images from the terminal."""

__version__ = "0.1.0"
