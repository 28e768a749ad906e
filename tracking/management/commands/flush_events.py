import signal

from django.core.management.base import BaseCommand, CommandError

from tracking import buffer
from tracking import priority as priority_mod


class Command(BaseCommand):
    help = "Move buffered events from Redis into the database (runs until stopped; --once drains and exits)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Drain the buffer once, then exit.")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--linger",
            type=float,
            default=buffer.LINGER_SECONDS,
            help="Seconds to wait after a small batch, so batches grow under load (default %(default)s; 0: never).",
        )
        parser.add_argument(
            "--priority",
            choices=priority_mod.MODES,
            default="idle",
            help="CPU priority (default %(default)s): idle runs only on a core the web workers leave free and steps "
            "up while more than 5 s behind; low is nice 10; normal is as started.",
        )

    def handle(self, *args, once, batch_size, linger, priority, **options):
        if not buffer.enabled():
            raise CommandError("REDIS_URL is not set: events are stored directly, there is no buffer to flush.")
        if not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be between 1 and 10000")
        if not 0 <= linger <= 10:
            raise CommandError("--linger must be between 0 and 10 seconds")
        flusher = buffer.Flusher(batch_size=batch_size, linger=linger)
        if once:
            self.stdout.write(f"Flushed {flusher.drain()} buffered requests.")
            return
        cpu = priority_mod.Priority(priority)
        cpu.apply()
        stopping = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))
        self.stdout.write("Flushing events; stop with SIGTERM.")
        flusher.run(should_stop=lambda: bool(stopping), after_step=cpu.update)
