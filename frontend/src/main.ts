// Must stay the first import: it fixes navigator.language before libraries read it.
import './locale-guard';
import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { browserApi } from './lib/api';
import { AppState } from './lib/stores/app.svelte';

const app = new AppState(browserApi());
// Exposed for the end-to-end test's diagnostics and for debugging.
(window as unknown as { clusterlab?: AppState }).clusterlab = app;

export default mount(App, { target: document.getElementById('app')!, props: { app } });
