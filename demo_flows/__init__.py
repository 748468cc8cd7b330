"""Example Prefect flows that show every decorator style flowportal discovers.

Importing this package imports none of the flow modules: discovery reads them
as text, and `warehouse_sync` deliberately depends on a package that is not
installed to prove it.
"""
