"""Organisation YAML -> Microsoft Graph and Prompt settings: validate, plan, apply."""
