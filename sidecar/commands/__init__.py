"""The commands beside `serve`: one evaluation (`check`), the deployment checklist (`snapshot`,
`verify`), accepting a baseline (`adopt`) and the quick start (`demo`)."""
