// The demo job: a synthetic clickstream sessionized with mapWithState (a session ends after 5 s without a click)
// and the top pages over a sliding 30 s window with reduceByKeyAndWindow. Run it with checkpoints:
//   npx tsx src/cli/main.ts run examples/clickstream-demo.ts --checkpoint .spate-checkpoints/clickstream
// (that is `npm start`); Ctrl-C, run it again, and it resumes from its checkpoint.
import * as path from "node:path";
import { Seconds, type State, StateSpec, StreamingContext } from "spate";
import { startClickstream } from "./clickstream/generator.js";

interface Click {
  user: string;
  page: string;
  time: number;
}

interface Session {
  start: number;
  last: number;
  clicks: number;
  pages: string[];
}

/** A finished session, as the sessionizer emits it when the user's state times out. */
interface SessionSummary {
  user: string;
  clicks: number;
  seconds: number;
  path: string;
}

const INPUT = path.resolve(process.env.CLICKSTREAM_DIR ?? ".spate-demo/clicks");

function parse(line: string): Click | undefined {
  const [user, page, time] = line.split(",");
  return user && page && time ? { user, page, time: Number(time) } : undefined;
}

function sessionize(
  user: string,
  click: Click | undefined,
  state: State<Session>,
): SessionSummary | undefined {
  if (state.isTimingOut()) {
    const s = state.get();
    return {
      user,
      clicks: s.clicks,
      seconds: (s.last - s.start) / 1000,
      path: s.pages.slice(0, 4).join(" > "),
    };
  }
  const s = state.getOption() ?? { start: click!.time, last: click!.time, clicks: 0, pages: [] };
  state.update({
    start: s.start,
    last: click!.time,
    clicks: s.clicks + 1,
    pages: [...s.pages, click!.page].slice(-8),
  });
  return undefined;
}

export default function createContext(): StreamingContext {
  const ssc = new StreamingContext({
    batchDuration: Seconds(1),
    appName: "clickstream-demo",
    conf: { "spate.checkpoint.interval": Seconds(5), "spate.stopGracefullyOnShutdown": true },
  });
  // The clicks arrive as files; the folder is a replayable source, so recovery reads the same files again.
  startClickstream(INPUT);
  const clicks = ssc.textFileStream(INPUT).flatMap((line) => {
    const c = parse(line);
    return c ? [c] : [];
  });

  const ended = clicks
    .map((c) => [c.user, c] as [string, Click])
    .mapWithState(StateSpec.function(sessionize).timeout(Seconds(5)))
    .uid("sessions");
  ended.foreachRDD(
    async (rdd, time) => {
      const sessions = await rdd.collect();
      if (sessions.length === 0) return;
      const clicksPer = sessions.reduce((n, s) => n + s.clicks, 0) / sessions.length;
      const longest = sessions.reduce((a, b) => (b.clicks > a.clicks ? b : a));
      // Through the context's logger, so that the demo's lines and spate's share one format.
      ssc.logger.info(
        { batchTime: time, sessions: sessions.length, longest: longest.user },
        `${sessions.length} sessions ended, ${clicksPer.toFixed(1)} clicks on average; ` +
          `longest: ${longest.user}, ${longest.clicks} clicks in ${longest.seconds.toFixed(0)} s (${longest.path} …)`,
      );
    },
    { name: "ended sessions" },
  );

  const pageCounts = clicks
    .map((c) => [c.page, 1] as [string, number])
    .reduceByKeyAndWindow(
      (a, b) => a + b,
      (a, b) => a - b,
      Seconds(30),
      Seconds(5),
      undefined,
      ([, n]) => n > 0,
    )
    .uid("page-counts");
  pageCounts.foreachRDD(
    async (rdd, time) => {
      const top = await rdd.sortBy(([, n]) => n, false).take(5);
      ssc.logger.info(
        { batchTime: time, top: Object.fromEntries(top) },
        `top pages, last 30 s: ${top.map(([p, n]) => `${p} ${n}`).join(" · ")}`,
      );
    },
    { name: "top pages" },
  );
  return ssc;
}
