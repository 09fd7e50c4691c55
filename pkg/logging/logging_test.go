package logging

import (
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

func TestSinkLines(t *testing.T) {
	type got struct {
		lvl  zapcore.Level
		line string
	}
	var lines []got
	log := New(func(l zapcore.Level, s string) { lines = append(lines, got{l, s}) }, zapcore.InfoLevel)
	log.Debug("hidden")
	log.Info("container started", zap.String("name", "carina-1-n1-abc"))
	log.With(zap.Uint32("job", 7)).Error("pull failed")
	log.Error("carina: already prefixed")
	want := []got{
		{zapcore.InfoLevel, `carina: container started {"name": "carina-1-n1-abc"}`},
		{zapcore.ErrorLevel, `carina: pull failed {"job": 7}`},
		{zapcore.ErrorLevel, `carina: already prefixed`},
	}
	if len(lines) != len(want) {
		t.Fatalf("lines = %+v", lines)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, lines[i], want[i])
		}
	}
}
