"""What the response may still carry: file contents and figures share one byte cap."""


class Budget:
    def __init__(self, limits):
        self.bytes_left = limits["maxBytes"]
        self.max_files = limits["maxFiles"]
        self.max_figures = limits["maxFigures"]

    def take(self, size):
        if size > self.bytes_left:
            return False
        self.bytes_left -= size
        return True
