/** A sender thread that dies as soon as it starts, every time. */
process.exit(4);
