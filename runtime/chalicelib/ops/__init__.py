"""Deploy-time operations run by CloudFormation, not by HTTP callers."""
