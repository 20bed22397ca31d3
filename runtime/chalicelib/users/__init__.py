"""Users: the people at a tenant (invitations, passwords, MFA) and the e-mails they receive."""
