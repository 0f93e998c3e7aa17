"""Running childspace: the whole chain on a run config (``pipeline``) and the ``childspace`` command (``cli``)."""
