// Package logging builds zap loggers whose lines end up where the host
// process wants them: Slurm's own log (through a sink the SPANK plugin
// provides) or the helper's standard error.
package logging

import (
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Sink receives one formatted line at a level.
type Sink func(level zapcore.Level, line string)

type sinkCore struct {
	zapcore.LevelEnabler
	enc  zapcore.Encoder
	sink Sink
}

// New returns a logger that formats entries as "carina: message key=value"
// and hands them to sink.
func New(sink Sink, min zapcore.Level) *zap.Logger {
	cfg := zapcore.EncoderConfig{MessageKey: "msg", ConsoleSeparator: " "}
	return zap.New(&sinkCore{LevelEnabler: min, enc: zapcore.NewConsoleEncoder(cfg), sink: sink})
}

func (c *sinkCore) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return &sinkCore{LevelEnabler: c.LevelEnabler, enc: enc, sink: c.sink}
}

func (c *sinkCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *sinkCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	buf, err := c.enc.EncodeEntry(e, fields)
	if err != nil {
		return err
	}
	line := strings.TrimRight(buf.String(), "\n")
	buf.Free()
	if !strings.HasPrefix(line, "carina:") {
		line = "carina: " + line
	}
	c.sink(e.Level, line)
	return nil
}

func (c *sinkCore) Sync() error { return nil }
