"""Who may call: the CDS Hooks JWT check, issuers' key sets and their policy, the jti replay cache, and the
signer the command-line tools use to call a service that requires a JWT."""
