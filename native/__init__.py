"""The engine compiled with mypyc: its build (`native.build`) and guarded import (`.loader`)."""
