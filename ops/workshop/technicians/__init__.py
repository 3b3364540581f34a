"""The technician's side of the workshop: the time clock, "My jobs", notes and photos, and the
technician view for the workshop manager."""
