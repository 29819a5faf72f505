"""The main job (`make demo`); filled in by the SCIM service work."""

print("demo: not built yet")
