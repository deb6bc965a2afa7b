"""Hardware in the loop: the twin's devices on Modbus TCP (plain map and SunSpec).

``registers`` (the map as data) → ``sunspec`` (SunSpec blocks from pysunspec2's models) →
``bridge`` (images, write validation, audit, watchdog, setpoints) → ``server`` (pymodbus)
→ ``serve`` (the paced, recorded run); ``controller`` is the external reference EMS.
"""
