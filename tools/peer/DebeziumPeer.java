// tools/peer/DebeziumPeer.java — the Debezium side of `tools/bench --peer
// debezium`: Debezium's embedded engine (the asynchronous engine that
// debezium-embedded ships) runs one connector and either
//
//   count   hands the change records (Kafka Connect SourceRecords, as the
//           connector makes them) to a consumer that only counts them, or
//   kafka   converts them as Kafka Connect does (JsonConverter, through the
//           engine's JsonByteArray format) and publishes them with Kafka's
//           own producer (acks=all, enable.idempotence=true), as a Kafka
//           Connect worker would.
//
// It stops once --expect data records (non-null values on the table's
// topic) have been counted, or acknowledged by the broker, and writes the
// wall-clock time of that moment (seconds since the epoch) to --done.
//
//   java -cp CLASSPATH DebeziumPeer --mode count|kafka --config FILE
//        --expect N --done FILE [--bootstrap HOST:PORT] [--linger MS]
//
// FILE holds the engine's and connector's properties. Compiled at benchmark
// time against the jars tools/lib/debezium-pom.xml fetches; not part of
// waybill.
import io.debezium.embedded.Connect;
import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import io.debezium.engine.format.JsonByteArray;
import java.io.FileInputStream;
import java.io.FileWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.Writer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.connect.source.SourceRecord;

public final class DebeziumPeer {
	private static final CountDownLatch finished = new CountDownLatch(1);
	private static final AtomicReference<String> failure = new AtomicReference<>();
	private static final AtomicLong seen = new AtomicLong();
	private static final AtomicLong delivered = new AtomicLong();
	private static volatile long firstRecordMs;
	private static volatile long doneMs;
	private static long expect;

	private static void fail(String why) {
		failure.compareAndSet(null, why);
		finished.countDown();
	}

	private static void deliveredOne() {
		if (delivered.incrementAndGet() == expect) {
			doneMs = System.currentTimeMillis();
			finished.countDown();
		}
	}

	private static void firstRecord() {
		if (firstRecordMs == 0)
			firstRecordMs = System.currentTimeMillis();
	}

	public static void main(String[] argv) throws Exception {
		Map<String, String> arg = new HashMap<>();
		for (int i = 0; i + 1 < argv.length; i += 2) {
			if (!argv[i].startsWith("--"))
				usage("unexpected " + argv[i]);
			arg.put(argv[i].substring(2), argv[i + 1]);
		}
		if (argv.length % 2 != 0)
			usage("odd number of arguments");
		String mode = arg.getOrDefault("mode", "");
		if (!mode.equals("count") && !mode.equals("kafka"))
			usage("--mode must be count or kafka");
		if (!arg.containsKey("config") || !arg.containsKey("expect") || !arg.containsKey("done"))
			usage("--config, --expect and --done are required");
		expect = Long.parseLong(arg.get("expect"));
		if (expect < 1)
			usage("--expect must be positive");

		Properties cfg = new Properties();
		try (InputStream in = new FileInputStream(arg.get("config"))) {
			cfg.load(in);
		}
		String table = cfg.getProperty("table.include.list");
		String prefix = cfg.getProperty("topic.prefix");
		if (table == null || prefix == null || table.contains(","))
			usage("the config needs topic.prefix and one table in table.include.list");
		String dataTopic = prefix + "." + table;

		DebeziumEngine.CompletionCallback done = (success, message, error) -> {
			if (!success)
				fail("engine stopped: " + message + (error != null ? " (" + error + ")" : ""));
			else if (delivered.get() < expect)
				fail("engine stopped after " + delivered.get() + " of " + expect + " records: " + message);
		};

		KafkaProducer<byte[], byte[]> producer = null;
		DebeziumEngine<?> engine;
		if (mode.equals("count")) {
			engine = DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
					 .using(cfg)
					 .using(done)
					 .notifying((List<RecordChangeEvent<SourceRecord>> batch,
							    DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer) -> {
						 for (RecordChangeEvent<SourceRecord> r : batch) {
							 SourceRecord sr = r.record();
							 if (sr.value() != null && dataTopic.equals(sr.topic())) {
								 firstRecord();
								 seen.incrementAndGet();
								 deliveredOne();
							 }
							 committer.markProcessed(r);
						 }
						 committer.markBatchFinished();
					 })
					 .build();
		} else {
			String bootstrap = arg.get("bootstrap");
			if (bootstrap == null)
				usage("--mode kafka needs --bootstrap");
			Properties pp = new Properties();
			pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
			pp.put(ProducerConfig.ACKS_CONFIG, "all");
			pp.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
			pp.put(ProducerConfig.LINGER_MS_CONFIG, arg.getOrDefault("linger", "20"));
			pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
			pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
			// extra producer settings: producer.<name>=<value> in the config
			for (String k : cfg.stringPropertyNames())
				if (k.startsWith("producer."))
					pp.put(k.substring(9), cfg.getProperty(k));
			KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(pp);
			producer = p;
			engine = DebeziumEngine.create(JsonByteArray.class)
					 .using(cfg)
					 .using(done)
					 .notifying((List<ChangeEvent<byte[], byte[]>> batch,
							    DebeziumEngine.RecordCommitter<ChangeEvent<byte[], byte[]>> committer) -> {
						 for (ChangeEvent<byte[], byte[]> r : batch) {
							 if (r.value() != null && dataTopic.equals(r.destination())) {
								 firstRecord();
								 seen.incrementAndGet();
								 p.send(new ProducerRecord<>(r.destination(), r.key(), r.value()),
									(md, ex) -> {
										if (ex != null)
											fail("produce failed: " + ex);
										else
											deliveredOne();
									});
							 }
							 committer.markProcessed(r);
						 }
						 committer.markBatchFinished();
					 })
					 .build();
		}

		long startMs = System.currentTimeMillis();
		ExecutorService exec = Executors.newSingleThreadExecutor();
		exec.execute(engine);
		long limit = Long.parseLong(arg.getOrDefault("timeout", "1800"));
		if (!finished.await(limit, TimeUnit.SECONDS))
			fail("timed out after " + limit + " s with " + delivered.get() + " of " + expect + " records");
		String why = failure.get();
		if (why == null) {
			try (Writer w = new FileWriter(arg.get("done"))) {
				w.write(String.format("%.3f%n", doneMs / 1000.0));
			}
		}
		System.out.printf("debezium %s: %d records seen, %d delivered; first record %.3f s after the"
					  + " engine started, the last %.3f s after%n",
				  mode, seen.get(), delivered.get(), (firstRecordMs - startMs) / 1000.0,
				  (doneMs - startMs) / 1000.0);
		// stopping is not measured; an engine that does not stop within
		// 20 s (one still connecting after a failure) is left to exit()
		Thread closer = new Thread(() -> {
			try {
				engine.close();
			} catch (IOException e) {
				// nothing to do
			}
		});
		closer.setDaemon(true);
		closer.start();
		closer.join(20000);
		if (producer != null)
			producer.close();
		exec.shutdownNow();
		if (why != null) {
			System.err.println("DebeziumPeer: " + why);
			System.exit(1);
		}
		System.exit(0);
	}

	private static void usage(String why) {
		System.err.println("DebeziumPeer: " + why);
		System.err.println("usage: DebeziumPeer --mode count|kafka --config FILE --expect N --done FILE"
				   + " [--bootstrap HOST:PORT] [--linger MS] [--timeout S]");
		System.exit(2);
	}
}
