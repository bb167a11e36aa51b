"""The stack model: validated settings (`settings`), physical names (`naming`), the facts Python, JavaScript and
SQL share (`contract`) and the one declaration of each Worker's script, bindings, consumers and crons
(`bindings`). No Pulumi, no I/O beyond the stack file."""
