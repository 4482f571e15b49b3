"""The one exception the engine raises for input it cannot analyse: it names the field and says what is wrong."""


class EngineInputError(ValueError):
    """Bad input to the engine. `field` names the offending request field, `code` is machine-readable."""

    def __init__(self, message: str, *, field: str = "non_field_errors", code: str = "invalid", status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        self.status = status
