"""Pulumi component and dynamic providers for one Prompt organisation in Entra ID.

The program lives in `pulumi/__main__.py`; this package holds the reusable parts so
that dynamic providers pickle by reference (iac.md section 3.1).
"""
