// The page's audio, mixed with Web Audio: the floor (every speaker's track)
// and the interpretation slot, each behind its own gain, so a language change
// or "keep the floor faintly under" is a gain change, never a reconnection.
// Remote WebRTC tracks stay attached to (muted) media elements as well:
// Chromium only feeds them to Web Audio then.

const FAINT = 0.15;

export function createMix() {
  let ctx = null;
  let floor; let interp; let master; let analyser;
  const pending = [];
  const state = { muted: true, listening: false, faint: false, floorVolume: 1 };

  function ensure() {
    if (ctx) return;
    ctx = new AudioContext();
    floor = ctx.createGain();
    interp = ctx.createGain();
    const sum = ctx.createGain();
    analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    master = ctx.createGain();
    floor.connect(sum); interp.connect(sum);
    sum.connect(analyser); analyser.connect(master); master.connect(ctx.destination);
    for (const [track, into] of pending.splice(0)) connect(track, into);
    apply();
  }

  function connect(track, into) {
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    source.connect(into === "floor" ? floor : interp);
  }

  function add(track, into) {
    if (ctx) connect(track, into); else pending.push([track, into]);
  }

  function apply() {
    if (!ctx) return;
    const now = ctx.currentTime;
    const floorGain = state.listening ? (state.faint ? FAINT : 0) : 1;
    // Short ramps: no click when switching language.
    floor.gain.setTargetAtTime(floorGain * state.floorVolume, now, 0.02);
    interp.gain.setTargetAtTime(state.listening ? 1 : 0, now, 0.02);
    master.gain.setTargetAtTime(state.muted ? 0 : 1, now, 0.02);
  }

  return {
    addFloor: (track) => add(track, "floor"),
    setInterpretation: (track) => add(track, "interp"),
    // Called from a click: browsers start audio only after a user gesture.
    setMuted(muted) { state.muted = muted; ensure(); ctx.resume().catch(() => {}); apply(); },
    setListening(listening, faint) { state.listening = listening; state.faint = faint; apply(); },
    setFloorVolume(v) { state.floorVolume = v; apply(); },
    get muted() { return state.muted; },
    // The loudest frequency now (Hz), for tests and for a level meter.
    dominantFrequency() {
      if (!ctx) return 0;
      const bins = new Float32Array(analyser.frequencyBinCount);
      analyser.getFloatFrequencyData(bins);
      let best = 0;
      for (let i = 1; i < bins.length; i += 1) if (bins[i] > bins[best]) best = i;
      return bins[best] < -90 ? 0 : (best * ctx.sampleRate) / analyser.fftSize;
    },
  };
}
