"""The service policy: `policy.default.yaml`, its pydantic model and the loader."""
