#!/usr/bin/env node
// Launcher: the compiled entry point lives in dist/ (npm run build).
import '../dist/main.js';
