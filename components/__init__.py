"""KFP component definitions: thin bodies over :mod:`stainworth` (installed as ``stainworth.components``)."""
