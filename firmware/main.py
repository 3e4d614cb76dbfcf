"""Device boot stub: everything lives in app.py (kept tiny so `make flash`
can replace the application without touching what the board boots)."""
import app

app.main()
